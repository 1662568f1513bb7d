"""Process definitions: reading and validating a bundle of BPMN/DMN/forms, and what a diagram declares (form checks,
starting data, shown forms, what a person may start)."""
