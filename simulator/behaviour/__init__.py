"""Reply behaviour: who answers a mass email, when, and what kind of text they send.

Theory of operation: everything here is pure numpy over workforce columns. `params` turns
a scenario's flat behaviour dict into typed parameters; `directives` resolves what each
agency told its staff into lookup tables by unit and time; `timing` draws reply delays
from a two-log-normal mixture and maps them through each person's local working hours and
a 1/(time left) deadline pull; `who` decides who replies, who sends an out-of-office
reply and whose address bounces; `violations` draws content that breaks a round's rules;
`writing` renders what people write, and sizes it without rendering.
`simulator.schedule` assembles the results into the events of a round.
"""
