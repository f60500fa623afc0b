/* log_series.h: the series of the double logs' 2*atanh form (simd_avx2.h,
 * simd_avx512.h). With s = u/(2+u) and z = s^2 <= 0.02944 (u in
 * [sqrt(1/2) - 1, sqrt(2) - 1]), 2*atanh(s) = 2s + s*z*g(z), where
 * g(z) = sum_i 2 z^i / (2i+3). The vector logs take g as the polynomial
 * G0 + G1 z + ... + G6 z^6, fitted for fastce to minimise the largest
 * |z (polynomial - g)| on [0, 0.02944] (tools/fit_log_series.py, mpmath):
 * 2^-57.9 with the coefficients rounded to double, against 2^-38.7 for the
 * series cut at the same degree. That error reaches log(1 + u) as at most
 * s 2^-57.9, about 2^-58.9 of the result. The ten terms of the series the
 * logs had before (truncation < 2^-60) cost three more FMAs and a multiply
 * (10% of float64 categorical CE); the measured maxima stay within the
 * bounds documented with the logs (tests/test_vector_math.py). */
#ifndef FASTCE_LOG_SERIES_H
#define FASTCE_LOG_SERIES_H

#define FASTCE_LOG_G0 0.6666666666666734
#define FASTCE_LOG_G1 0.3999999999941432
#define FASTCE_LOG_G2 0.28571428742475136
#define FASTCE_LOG_G3 0.2222219856346292
#define FASTCE_LOG_G4 0.18183564867699378
#define FASTCE_LOG_G5 0.1531403581178985
#define FASTCE_LOG_G6 0.14796105654173844

#endif /* FASTCE_LOG_SERIES_H */
