"""Reports: summary.json and a self-contained report.html from a run's files."""
