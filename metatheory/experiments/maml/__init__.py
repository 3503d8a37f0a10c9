"""MAML family experiments: the product formula (G1 ``maml_product_formula``) and its
first-order / truncated forms (G2 ``fomaml_truncated``)."""

from metatheory.experiments.maml.fomaml_truncated import (
    FOMAML_TRUNCATED_PRESETS,
    FomamlTruncatedConfig,
    FomamlTruncatedResult,
    truncated_products,
)
from metatheory.experiments.maml.maml_product_formula import (
    MAML_PRODUCT_FORMULA_PRESETS,
    MamlProductFormulaConfig,
    MamlProductFormulaResult,
    product_formula,
)

__all__ = [
    "MamlProductFormulaConfig",
    "MAML_PRODUCT_FORMULA_PRESETS",
    "MamlProductFormulaResult",
    "product_formula",
    "FomamlTruncatedConfig",
    "FOMAML_TRUNCATED_PRESETS",
    "FomamlTruncatedResult",
    "truncated_products",
]
