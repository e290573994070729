from staff import field_engineer, operations_user  # noqa: F401  (fixtures)
