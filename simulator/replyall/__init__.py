"""Reply-all storms on open distribution lists: the model, its defences and calibration.

Theory of operation: a storm is a self-exciting process. Every copy of a list message that
lands in a mailbox may provoke its reader to reply to the whole list, and each such reply
fans out to every member again. The package simulates this in fixed time steps with counts
(no row per delivery), many seeded runs at once as numpy vectors, so a 1M-recipient list
and a band of 100 runs stay cheap. `params` reads the scenario, `process` runs the storm,
`defences` and `mta` hold the switches and the delivery queue, `summary` turns the arrays
into the figures a planner reads, and `band`, `compare`, `calibrate`, `plots` and `replay`
build on those.
"""
