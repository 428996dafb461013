"""The operator's core: what AWS must look like, and what to report, for each object.

- `spec`, `package`, `function`, `conditions`, `schedule`, `errors`: pure; no I/O at all.
- `metacontroller`: the shape of Metacontroller's requests and replies.
- `aws` and `kube`: the only modules that talk to AWS and to the Kubernetes API.
- `lambdafunctions` and `awsproviders`: the answer to each hook call of each kind, joining
  the above through `context.Dependencies`.
"""
