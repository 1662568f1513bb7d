"""accredit HTTP layer: Flask app factory, blueprints, schemas. Never imports SpiffWorkflow."""
