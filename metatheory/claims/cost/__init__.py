"""Ledger rows G5 ``maml_cost`` (cost of a MAML step) and G6 ``maml_memory`` (memory of nested
differentiation), one module each; both read XLA's compiled programs."""
