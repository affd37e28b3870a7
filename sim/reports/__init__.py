"""Reports: the Markdown of each report kind (batch, pair, sweep), with its figures."""
