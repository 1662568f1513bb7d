"""Who is who and who may see what: access rules, the redactor, identity and authentication, credentials, throttling,
administration, who holds a role."""
