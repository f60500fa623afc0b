"""Fit the polynomial of csrc/log_series.h and print its coefficients and error.

g(z) = (2*atanh(s) - 2*s) / (s*z), z = s^2, on [0, zmax], zmax = s_max^2,
s_max = (sqrt(2) - 1)/(sqrt(2) + 1) (with 0.01% margin). The fit minimises
the largest |z * (p(z) - g(z))| by Lawson's iteratively reweighted least
squares on 400 Chebyshev nodes at 60 digits; the error is then measured
with the coefficients rounded to double on 5001 evenly spaced points.

    pip install mpmath && python tools/fit_log_series.py     # ~2 minutes
"""
import mpmath as mp

from lawson import lawson_fit

mp.mp.dps = 60
DEGREE, NODES, ROUNDS = 6, 400, 150


def g(z):
    if z == 0:
        return mp.mpf(2) / 3
    s = mp.sqrt(z)
    return (2 * mp.atanh(s) - 2 * s) / (s * z)


def main():
    zmax = ((mp.sqrt(2) - 1) / (mp.sqrt(2) + 1)) ** 2 * mp.mpf("1.0001")
    nodes = [zmax * (1 - mp.cos(mp.pi * (k + mp.mpf(0.5)) / NODES)) / 2 for k in range(NODES)]
    coeffs = lawson_fit(nodes, [g(z) for z in nodes], lambda z: z, DEGREE, ROUNDS)
    grid = [zmax * k / 5000 for k in range(5001)]
    worst = max(abs(z * (sum(mp.mpf(coeffs[j]) * z ** j for j in range(DEGREE + 1)) - g(z)))
                for z in grid)
    for j, v in enumerate(coeffs):
        print(f"#define FASTCE_LOG_G{j} {v!r}")
    print(f"max |z (p - g)| = 2^{float(mp.log(worst, 2)):.1f}")


if __name__ == "__main__":
    main()
