"""The audit trail as it is written: the append-only event log, its hash chain, signed checkpoints and electronic
signatures."""
