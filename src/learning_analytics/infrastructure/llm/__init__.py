"""Language-model adapters (SPEC §15 "AI")."""
