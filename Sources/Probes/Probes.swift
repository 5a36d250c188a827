// The burn-in probes land with issue 5; this target exists so the module layout of
// docs/ARCHITECTURE.md is in place.
import CGroups

/// Namespace of the burn-in probes.
public enum Probes {}
