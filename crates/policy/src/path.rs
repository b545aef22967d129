//! Path normalisation and workspace containment.
