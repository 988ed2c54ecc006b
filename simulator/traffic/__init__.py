"""What goes on the wire and how it is timed: shared by every load driver.

The native replay engine (`simulator.replay`) renders the bytes (`payload`), paces events
(`pacer`), classifies answers (`outcomes`) and records results in columns and histograms
(`record`); the Locust integration (`simulator.locust`) plans and splits the same events
with `pacer` and receives the engine's interval reports as `frames`. A request template
(`request`) reshapes the HTTP request for an endpoint of another shape, from the same
`payload` values. None of it opens a socket, so the engine and the Locust layer can both
use it and stay independent of each other.
"""
