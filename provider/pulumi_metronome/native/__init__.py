"""The native Pulumi provider plugin: the same resource core as the dynamic providers,
served over gRPC to programs in every Pulumi language (``schema``: the package schema and
the property names)."""
