"""The speaker core (layer L3, pure): orchestration of sessions and RIBs."""
