"""The C macros the tools print into csrc/*_table.h."""


def print_coefficients(prefix, coeffs):
    """``#define <prefix><j> <coeffs[j]>``, lowest first."""
    for j, v in enumerate(coeffs):
        print(f"#define {prefix}{j} {v!r}")


def print_register_tables(prefix, tables):
    """Each sixteen-entry table (name, values) as two macros of eight values,
    ``<prefix><name>0`` and ``<prefix><name>1``: the two registers of one
    vpermt2pd."""
    for name, vals in tables:
        for half in range(2):
            body = ", ".join(repr(v) for v in vals[8 * half:8 * half + 8])
            print(f"#define {prefix}{name}{half} {body}")
