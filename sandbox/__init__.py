"""Stand-ins for the outside world, so that `make run`, the tests and the benchmark need no
AWS account and no cluster: an embedded AWS, a Kubernetes API holding Secrets, and a replay
of Metacontroller's calls."""
