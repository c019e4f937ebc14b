"""Network models: numba kernels with per-neuron heterogeneity, and their mean-field reductions."""
