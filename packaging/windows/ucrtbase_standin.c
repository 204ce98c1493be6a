/* Test-prefix stand-in for ucrtbase.dll's C99 complex functions, which Wine 8 leaves
 * unimplemented (numpy's _multiarray_umath calls crealf while it imports).
 *
 * Built together with a .def file that forwards every other export to a copy of Wine's
 * own ucrtbase (renamed ucrtwine.dll), and placed in the Wine prefix of the tests only,
 * never into the product: real Windows has Microsoft's UCRT.  The MSVC ABI passes
 * _Dcomplex and _Lcomplex (long double is double there) as 16-byte structs and
 * _Fcomplex as an 8-byte struct; the structs below have those layouts.
 */
#include <complex.h>
#include <math.h>

typedef struct { double v[2]; } Dc;
typedef struct { float v[2]; } Fc;

static double complex d_in(Dc z) { return __builtin_complex(z.v[0], z.v[1]); }
static float complex f_in(Fc z) { return __builtin_complex(z.v[0], z.v[1]); }
static Dc d_out(double complex z) { Dc r = {{creal(z), cimag(z)}}; return r; }
static Fc f_out(float complex z) { Fc r = {{crealf(z), cimagf(z)}}; return r; }

#define EXPORT __declspec(dllexport)
#define UNARY(name) \
    EXPORT Dc zvk_##name(Dc z) { return d_out(name(d_in(z))); } \
    EXPORT Fc zvk_##name##f(Fc z) { return f_out(name##f(f_in(z))); } \
    EXPORT Dc zvk_##name##l(Dc z) { return d_out(name(d_in(z))); }
#define TO_REAL(name) \
    EXPORT double zvk_##name(Dc z) { return name(d_in(z)); } \
    EXPORT float zvk_##name##f(Fc z) { return name##f(f_in(z)); } \
    EXPORT double zvk_##name##l(Dc z) { return name(d_in(z)); }

UNARY(cacos) UNARY(cacosh) UNARY(casin) UNARY(casinh) UNARY(catan) UNARY(catanh)
UNARY(ccos) UNARY(ccosh) UNARY(cexp) UNARY(clog) UNARY(csin) UNARY(csinh)
UNARY(csqrt) UNARY(ctan) UNARY(ctanh) UNARY(conj) UNARY(cproj)
TO_REAL(cabs) TO_REAL(carg) TO_REAL(cimag) TO_REAL(creal)

EXPORT Dc zvk_cpow(Dc a, Dc b) { return d_out(cpow(d_in(a), d_in(b))); }
EXPORT Fc zvk_cpowf(Fc a, Fc b) { return f_out(cpowf(f_in(a), f_in(b))); }
EXPORT Dc zvk_cpowl(Dc a, Dc b) { return d_out(cpow(d_in(a), d_in(b))); }
EXPORT Dc zvk__Cbuild(double re, double im) { Dc r = {{re, im}}; return r; }
EXPORT Fc zvk__FCbuild(float re, float im) { Fc r = {{re, im}}; return r; }
EXPORT Dc zvk__LCbuild(double re, double im) { Dc r = {{re, im}}; return r; }
EXPORT Dc zvk__Cmulcc(Dc a, Dc b) { return d_out(d_in(a) * d_in(b)); }
EXPORT Fc zvk__FCmulcc(Fc a, Fc b) { return f_out(f_in(a) * f_in(b)); }
EXPORT Dc zvk__LCmulcc(Dc a, Dc b) { return d_out(d_in(a) * d_in(b)); }
EXPORT Dc zvk__Cmulcr(Dc a, double b) { return d_out(d_in(a) * b); }
EXPORT Fc zvk__FCmulcr(Fc a, float b) { return f_out(f_in(a) * b); }
EXPORT Dc zvk__LCmulcr(Dc a, double b) { return d_out(d_in(a) * b); }
