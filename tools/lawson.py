"""Lawson's algorithm for the tools' fits: the polynomial p of a given degree
minimising the largest |s(x) (p(x) - g(x))| over a set of nodes, by
iteratively reweighted least squares (the weights grow where the error is
largest until the fit is minimax), in mpmath at the caller's precision."""
import mpmath as mp


def lawson_fit(nodes, exact, scale, degree, rounds):
    """Coefficients (lowest first, rounded to double) of p minimising
    max |scale(x) (p(x) - exact)| over the nodes."""
    n = len(nodes)
    weights = [mp.mpf(1)] * n
    for _ in range(rounds):
        A = mp.matrix(n, degree + 1)
        b = mp.matrix(n, 1)
        for i, x in enumerate(nodes):
            w = mp.sqrt(weights[i]) * scale(x)
            for j in range(degree + 1):
                A[i, j] = w * x ** j
            b[i] = w * exact[i]
        c = mp.lu_solve(A.T * A, A.T * b)
        errs = [abs(scale(x) * (sum(c[j] * x ** j for j in range(degree + 1)) - e))
                for x, e in zip(nodes, exact)]
        total = sum(w * e for w, e in zip(weights, errs))
        weights = [w * e / total for w, e in zip(weights, errs)]
    return [float(c[j]) for j in range(degree + 1)]
