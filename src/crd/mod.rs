//! kube `CustomResource` types for the ToolHive v1beta1 kinds the vMCP auth docs use.
