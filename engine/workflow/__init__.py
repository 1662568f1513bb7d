"""SpiffWorkflow's state of a case: reading it without the stock iterator, advancing it, pruning the finished past,
(de)serializing it. No database, no people."""
