//! Trust- and permission-policy analysis (placeholder; being written).
