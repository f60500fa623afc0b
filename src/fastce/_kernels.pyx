# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Thin bindings over the C kernels in ``csrc/`` (contract: ``csrc/fastce_api.h``).

Every function here takes already-validated, C-contiguous, 1-D views of
arrays of one dtype (float32 or float64: each binding is a fused function),
calls ``fastce_<op>_f32`` or ``fastce_<op>_f64`` without the GIL, and turns
status codes into exceptions. An absent operand (no weights, no gradient
wanted) is passed as None and reaches the kernel as a NULL pointer, as does
an empty array. Callers take the specialisation for their dtype from
``_bindings.py`` (``fn["float"]``, ``fn["double"]``): Cython's fused-type
dispatch would cost a quarter of a microsecond a call. No maths happens here;
validation is in ``_inputs.py``.
"""
from libc.stddef cimport ptrdiff_t
from libc.stdint cimport int64_t
from libc.math cimport NAN

cdef extern from "fastce.h" nogil:
    enum:
        FASTCE_OK
        FASTCE_ERR_LABEL
        FASTCE_ERR_NOMEM
    int fastce_openmp_enabled()
    int fastce_default_threads()
    const char *fastce_best_isa()
    int fastce_set_isa(const char *name)
    int fastce_isa_supported(const char *name)
    const char *fastce_isa()
    void fastce_vec_math_f32(int f, const float *x, float *out, ptrdiff_t n)
    void fastce_vec_math_f64(int f, const double *x, double *out, ptrdiff_t n)
    void fastce_dd_math(int f, const double *x, double *hi, double *lo, ptrdiff_t n)

    int fastce_check_labels_f32(const int64_t *y, ptrdiff_t n, ptrdiff_t C, int has_ignore, int64_t ignore_index, const float *w, const float *sw, double *den, ptrdiff_t *bad, int *weights_finite)
    int fastce_check_labels_f64(const int64_t *y, ptrdiff_t n, ptrdiff_t C, int has_ignore, int64_t ignore_index, const double *w, const double *sw, double *den, ptrdiff_t *bad, int *weights_finite)

    int fastce_logsumexp_f32(const float *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, float *out, int n_threads)
    int fastce_logsumexp_f64(const double *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *out, int n_threads)
    int fastce_log_softmax_f32(const float *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, float *out, int n_threads)
    int fastce_log_softmax_f64(const double *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *out, int n_threads)
    int fastce_softmax_f32(const float *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, float *out, int n_threads)
    int fastce_softmax_f64(const double *x, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *out, int n_threads)

    int fastce_softmax_ce_sparse_f32(const float *x, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw, int64_t ignore_index, double e, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_softmax_ce_sparse_f64(const double *x, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw, int64_t ignore_index, double e, double *loss, double *total, double *grad, double grad_scale, int n_threads)
    int fastce_softmax_ce_dense_f32(const float *x, const float *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw, double e, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_softmax_ce_dense_f64(const double *x, const double *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw, double e, double *loss, double *total, double *grad, double grad_scale, int n_threads)
    int fastce_nll_f32(const float *lp, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const float *w, const float *sw, int64_t ignore_index, float *loss, double *total, float *grad, double grad_scale, int grad_zeroed, int n_threads)
    int fastce_nll_f64(const double *lp, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const double *w, const double *sw, int64_t ignore_index, double *loss, double *total, double *grad, double grad_scale, int grad_zeroed, int n_threads)

    int fastce_sigmoid_ce_f32(const float *x, const float *z, ptrdiff_t n, ptrdiff_t P, const float *w, const float *q, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_sigmoid_ce_f64(const double *x, const double *z, ptrdiff_t n, ptrdiff_t P, const double *w, const double *q, double *loss, double *total, double *grad, double grad_scale, int n_threads)

    int fastce_categorical_ce_sparse_f32(const float *p, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const float *sw, double eps, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_categorical_ce_sparse_f64(const double *p, const int64_t *y, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const double *sw, double eps, double *loss, double *total, double *grad, double grad_scale, int n_threads)
    int fastce_categorical_ce_dense_f32(const float *p, const float *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const float *sw, double eps, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_categorical_ce_dense_f64(const double *p, const double *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, const double *sw, double eps, double *loss, double *total, double *grad, double grad_scale, int n_threads)
    int fastce_binary_ce_f32(const float *p, const float *z, ptrdiff_t n, ptrdiff_t P, const float *w, double eps, float *loss, double *total, float *grad, double grad_scale, int n_threads)
    int fastce_binary_ce_f64(const double *p, const double *z, ptrdiff_t n, ptrdiff_t P, const double *w, double eps, double *loss, double *total, double *grad, double grad_scale, int n_threads)

    int fastce_accuracy_f32(const float *x, const int64_t *y, const float *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *count, int n_threads)
    int fastce_accuracy_f64(const double *x, const int64_t *y, const double *t, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *count, int n_threads)
    int fastce_entropy_f32(const float *p, const float *q, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, float *out, int n_threads)
    int fastce_entropy_f64(const double *p, const double *q, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, double *out, int n_threads)


ctypedef fused real:
    float
    double


cdef inline const real *_in(const real[::1] a) noexcept:
    """Pointer to an input view; NULL for None (absent) or an empty one."""
    return &a[0] if a is not None and a.shape[0] else NULL


cdef inline real *_out(real[::1] a) noexcept:
    """Pointer to an output view; NULL for None (absent) or an empty one."""
    return &a[0] if a is not None and a.shape[0] else NULL


cdef inline const int64_t *_labels(const int64_t[::1] y) noexcept:
    return &y[0] if y is not None and y.shape[0] else NULL


cdef inline int _check(int status) except -1:
    if status == FASTCE_ERR_NOMEM:
        raise MemoryError("fastce: could not allocate the kernel's scratch space")
    if status != FASTCE_OK:
        raise RuntimeError(f"fastce: kernel returned status {status}")
    return 0


def openmp_enabled():
    """True when the kernels were compiled with OpenMP."""
    return bool(fastce_openmp_enabled())


def default_threads():
    """The thread count ``n_threads=None`` resolves to right now."""
    return fastce_default_threads()


def best_isa():
    """The widest instruction set this CPU and build support."""
    return fastce_best_isa().decode()


def current_isa():
    """The instruction set the kernels use now."""
    return fastce_isa().decode()


def isa_supported(str name):
    """Whether this CPU and build can run instruction set ``name``."""
    return fastce_isa_supported(name.encode()) != 0


def set_isa(str name):
    """Switch every kernel to instruction set ``name``; False if unsupported.
    Not thread-safe: call it before kernels run (fastce does, at import)."""
    return fastce_set_isa(name.encode()) == 0


_MATH = {"exp": 0, "log": 1, "log1p": 2, "exp24": 3, "log1p24": 4, "exp_dd": 5, "log1p_dd": 6,
         "log24": 7}
#: The functions only some instruction sets have (fastce.h).
_MATH_ISAS = {name: ("avx2", "avx512")
              for name in ("exp24", "log1p24", "exp_dd", "log1p_dd", "log24")}


def vector_math(str name, const real[::1] x not None, real[::1] out not None):
    """Test hook: ``out = name(x)`` with the current instruction set's own
    vectorised exp, log or log1p (the functions the kernels use), or the
    AVX2 sigmoid kernels' ``exp24``, ``log1p24`` (float accuracy),
    ``exp_dd`` and ``log1p_dd`` (double accuracy), or the float probability
    losses' ``log24`` (positive x, float accuracy); ValueError for those on
    other instruction sets."""
    cdef int f = _MATH[name]
    if name in _MATH_ISAS and current_isa() not in _MATH_ISAS[name]:
        raise ValueError(f"{name}: only on {', '.join(_MATH_ISAS[name])}, "
                         f"not on {current_isa()}")
    cdef ptrdiff_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if real is float:
            fastce_vec_math_f32(f, &x[0], &out[0], n)
        else:
            fastce_vec_math_f64(f, &x[0], &out[0], n)


_DD_MATH = {"exp": 0, "expm1": 1, "log1p": 2}


def dd_math(str name, const double[::1] x not None, double[::1] hi not None,
            double[::1] lo not None):
    """Test hook: ``hi + lo = name(x)`` by the scalar double-double ``exp``,
    ``expm1`` or ``log1p`` (of ``x >= 0``) of csrc/ddmath.h, which
    logsumexp's cancelling rows and the weighted float64 sigmoid loss use."""
    cdef int f = _DD_MATH[name]
    cdef ptrdiff_t n = x.shape[0]
    if hi.shape[0] != n or lo.shape[0] != n:
        raise ValueError("dd_math: x, hi and lo must have the same length")
    if n == 0:
        return
    with nogil:
        fastce_dd_math(f, &x[0], &hi[0], &lo[0], n)


def check_labels(const int64_t[::1] y not None, ptrdiff_t C, bint has_ignore,
                 int64_t ignore_index, const real[::1] w, const real[::1] sw):
    """Return ``(denominator, bad, weights_finite)``: ``bad`` is the first
    position whose label is out of range (and not ignored), or -1 when all
    are valid; ``weights_finite``, 1 when every class weight is finite (2
    when the sum of their magnitudes overflows), else 0."""
    cdef double den = NAN
    cdef ptrdiff_t bad = -1
    cdef int st, finite = 1
    cdef const int64_t *py = _labels(y)
    cdef const real *pw = _in(w)
    cdef const real *psw = _in(sw)
    with nogil:
        if real is float:
            st = fastce_check_labels_f32(py, y.shape[0], C, has_ignore, ignore_index, pw, psw, &den, &bad,
                                         &finite)
        else:
            st = fastce_check_labels_f64(py, y.shape[0], C, has_ignore, ignore_index, pw, psw, &den, &bad,
                                         &finite)
    return (den, bad if st == FASTCE_ERR_LABEL else -1, finite)


def logsumexp(const real[::1] x not None, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
              real[::1] out not None, int n_threads):
    cdef int st
    cdef const real *px = _in(x)
    cdef real *po = _out(out)
    with nogil:
        if real is float:
            st = fastce_logsumexp_f32(px, n0, C, n1, po, n_threads)
        else:
            st = fastce_logsumexp_f64(px, n0, C, n1, po, n_threads)
    _check(st)


def log_softmax(const real[::1] x not None, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                real[::1] out not None, int n_threads):
    cdef int st
    cdef const real *px = _in(x)
    cdef real *po = _out(out)
    with nogil:
        if real is float:
            st = fastce_log_softmax_f32(px, n0, C, n1, po, n_threads)
        else:
            st = fastce_log_softmax_f64(px, n0, C, n1, po, n_threads)
    _check(st)


def softmax(const real[::1] x not None, ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
            real[::1] out not None, int n_threads):
    cdef int st
    cdef const real *px = _in(x)
    cdef real *po = _out(out)
    with nogil:
        if real is float:
            st = fastce_softmax_f32(px, n0, C, n1, po, n_threads)
        else:
            st = fastce_softmax_f64(px, n0, C, n1, po, n_threads)
    _check(st)


def softmax_ce_sparse(const real[::1] x not None, const int64_t[::1] y not None, ptrdiff_t n0,
                      ptrdiff_t C, ptrdiff_t n1, const real[::1] w,
                      const real[::1] sw, int64_t ignore_index, double e,
                      real[::1] loss, real[::1] grad, double grad_scale,
                      int n_threads):
    """Return the sum of the per-sample losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *px = _in(x)
    cdef const int64_t *py = _labels(y)
    cdef const real *pw = _in(w)
    cdef const real *psw = _in(sw)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_softmax_ce_sparse_f32(px, py, n0, C, n1, pw, psw, ignore_index, e, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_softmax_ce_sparse_f64(px, py, n0, C, n1, pw, psw, ignore_index, e, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def softmax_ce_dense(const real[::1] x not None, const real[::1] t not None, ptrdiff_t n0,
                     ptrdiff_t C, ptrdiff_t n1, const real[::1] w,
                     const real[::1] sw, double e, real[::1] loss,
                     real[::1] grad, double grad_scale, int n_threads):
    """Return the sum of the per-sample losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *px = _in(x)
    cdef const real *pt = _in(t)
    cdef const real *pw = _in(w)
    cdef const real *psw = _in(sw)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_softmax_ce_dense_f32(px, pt, n0, C, n1, pw, psw, e, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_softmax_ce_dense_f64(px, pt, n0, C, n1, pw, psw, e, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def nll(const real[::1] lp not None, const int64_t[::1] y not None, ptrdiff_t n0, ptrdiff_t C,
        ptrdiff_t n1, const real[::1] w, const real[::1] sw,
        int64_t ignore_index, real[::1] loss, real[::1] grad,
        double grad_scale, bint grad_zeroed, int n_threads):
    """Return the sum of the per-sample losses. ``grad_zeroed``: ``grad``
    holds zeros already and only its target entries are written."""
    cdef double total = NAN
    cdef int st
    cdef const real *px = _in(lp)
    cdef const int64_t *py = _labels(y)
    cdef const real *pw = _in(w)
    cdef const real *psw = _in(sw)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_nll_f32(px, py, n0, C, n1, pw, psw, ignore_index, pl, &total, pg, grad_scale, grad_zeroed, n_threads)
        else:
            st = fastce_nll_f64(px, py, n0, C, n1, pw, psw, ignore_index, pl, &total, pg, grad_scale, grad_zeroed, n_threads)
    _check(st)
    return total


def sigmoid_ce(const real[::1] x not None, const real[::1] z not None, ptrdiff_t P,
               const real[::1] w, const real[::1] q, real[::1] loss,
               real[::1] grad, double grad_scale, int n_threads):
    """Return the sum of the elementwise losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *px = _in(x)
    cdef const real *pz = _in(z)
    cdef const real *pw = _in(w)
    cdef const real *pq = _in(q)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_sigmoid_ce_f32(px, pz, x.shape[0], P, pw, pq, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_sigmoid_ce_f64(px, pz, x.shape[0], P, pw, pq, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def categorical_ce_sparse(const real[::1] p not None, const int64_t[::1] y not None,
                          ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1,
                          const real[::1] sw, double eps, real[::1] loss,
                          real[::1] grad, double grad_scale, int n_threads):
    """Return the sum of the per-sample losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *pp = _in(p)
    cdef const int64_t *py = _labels(y)
    cdef const real *psw = _in(sw)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_categorical_ce_sparse_f32(pp, py, n0, C, n1, psw, eps, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_categorical_ce_sparse_f64(pp, py, n0, C, n1, psw, eps, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def categorical_ce_dense(const real[::1] p not None, const real[::1] t not None, ptrdiff_t n0,
                         ptrdiff_t C, ptrdiff_t n1, const real[::1] sw,
                         double eps, real[::1] loss, real[::1] grad,
                         double grad_scale, int n_threads):
    """Return the sum of the per-sample losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *pp = _in(p)
    cdef const real *pt = _in(t)
    cdef const real *psw = _in(sw)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_categorical_ce_dense_f32(pp, pt, n0, C, n1, psw, eps, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_categorical_ce_dense_f64(pp, pt, n0, C, n1, psw, eps, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def binary_ce(const real[::1] p not None, const real[::1] z not None, ptrdiff_t P,
              const real[::1] w, double eps, real[::1] loss, real[::1] grad,
              double grad_scale, int n_threads):
    """Return the sum of the elementwise losses."""
    cdef double total = NAN
    cdef int st
    cdef const real *pp = _in(p)
    cdef const real *pz = _in(z)
    cdef const real *pw = _in(w)
    cdef real *pl = _out(loss)
    cdef real *pg = _out(grad)
    with nogil:
        if real is float:
            st = fastce_binary_ce_f32(pp, pz, p.shape[0], P, pw, eps, pl, &total, pg, grad_scale, n_threads)
        else:
            st = fastce_binary_ce_f64(pp, pz, p.shape[0], P, pw, eps, pl, &total, pg, grad_scale, n_threads)
    _check(st)
    return total


def accuracy(const real[::1] x not None, const int64_t[::1] y, const real[::1] t,
             ptrdiff_t n0, ptrdiff_t C, ptrdiff_t n1, int n_threads):
    """Return the number of samples whose argmax matches (a float)."""
    cdef double count = 0.0
    cdef int st
    cdef const real *px = _in(x)
    cdef const int64_t *py = _labels(y)
    cdef const real *pt = _in(t)
    with nogil:
        if real is float:
            st = fastce_accuracy_f32(px, py, pt, n0, C, n1, &count, n_threads)
        else:
            st = fastce_accuracy_f64(px, py, pt, n0, C, n1, &count, n_threads)
    _check(st)
    return count


def entropy(const real[::1] p not None, const real[::1] q, ptrdiff_t n0, ptrdiff_t C,
            ptrdiff_t n1, real[::1] out not None, int n_threads):
    """Per-sample entropy (q None) or KL divergence into ``out``."""
    cdef int st
    cdef const real *pp = _in(p)
    cdef const real *pq = _in(q)
    cdef real *po = _out(out)
    with nogil:
        if real is float:
            st = fastce_entropy_f32(pp, pq, n0, C, n1, po, n_threads)
        else:
            st = fastce_entropy_f64(pp, pq, n0, C, n1, po, n_threads)
    _check(st)
