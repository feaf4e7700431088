"""The native Pulumi provider plugin ``pulumi-resource-metronome``: a schema generated from
the models (``schema``) and a gRPC front end over the same resource core as the dynamic
providers (``provider``)."""
