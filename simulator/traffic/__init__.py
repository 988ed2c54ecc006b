"""What goes on the wire and how it is timed: shared by every load driver.

The native replay engine (`simulator.replay`) and the Locust users (`simulator.locust`)
render the same bytes (`payload`), pace events by the same rule (`pacer`), classify answers
the same way (`outcomes`) and record results in the same columns and histograms
(`record`). A request template (`request`) reshapes the HTTP request for an endpoint of
another shape, from the same `payload` values. None of it opens a socket, so both
drivers can use it and stay independent of each other.
"""
