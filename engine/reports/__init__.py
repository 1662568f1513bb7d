"""What auditors read: the case and system history views and exports, the audit console, the PDF case record, step
metrics."""
