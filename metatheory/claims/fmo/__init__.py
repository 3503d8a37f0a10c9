"""Ledger rows C1–C5 of the convergence theory of MAML (Fallah, Mokhtari, Ozdaglar 2020), one
module each, checked on the circular task family whose constants are exact."""
