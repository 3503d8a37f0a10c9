"""Settings for every pytest run in this repository (tests, verifications, benchmarks)."""

import jax

# JAX's asynchronous CPU dispatch occasionally left a jitted Cholesky waiting forever on this
# 2-core machine (all threads on a futex; cf. jax-ml/jax#25861). Synchronous dispatch costs
# little here and removed the hang.
jax.config.update("jax_cpu_enable_async_dispatch", False)
