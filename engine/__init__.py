"""accredit engine: runs the accreditation BPMN library on SpiffWorkflow, durably.

Pure Python (SpiffWorkflow + SQLAlchemy); never imports Flask. The public service API lives in
:mod:`engine.cases.services`.
"""
