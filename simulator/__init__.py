"""pulsecheck: simulate mass-mail events and the reply storms they set off.

The package is a pipeline of data. The pure core (workforce, behaviour, schedule, cost,
report) works on numpy columns; the IO edges (replay targets, collection servers, Locust
users) sit behind one seam each.
"""

__version__ = "0.1.0"
