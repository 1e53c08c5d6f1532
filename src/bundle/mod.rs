//! Multi-document manifest bundles: Secret resolution, admission and reconcile rules.
