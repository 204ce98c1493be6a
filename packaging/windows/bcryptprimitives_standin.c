/* Test-prefix stand-in for bcryptprimitives.dll, which Wine 8 lacks.
 *
 * cryptography's Rust core (via the getrandom crate) imports ProcessPrng from
 * bcryptprimitives.dll on Windows 10 and later.  This DLL goes into the Wine
 * prefix of the tests only, never into the product: real Windows has the
 * system one.  ProcessPrng fills the buffer from RtlGenRandom
 * (advapi32!SystemFunction036), which Wine implements.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
