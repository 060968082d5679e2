"""The controller: continuous, event-driven reconciliation of every Application it is responsible
for."""
