/*
 * A one-function bcryptprimitives.dll for Wine < 8.13.
 *
 * Rust >= 1.78 std imports ProcessPrng from bcryptprimitives.dll to get
 * random bytes (HashMap seeds). Debian 12's Wine 8.0 has no ProcessPrng, so
 * every Rust Windows binary fails to start there. This DLL provides it on top
 * of RtlGenRandom (advapi32's SystemFunction036), which Wine 8.0 has.
 *
 * Built by the windows-gnu cell (ci/src/plan.rs) with x86_64-w64-mingw32-gcc
 * and found by Wine through WINEPATH. Used only by the local matrix, never
 * shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    /* Like Windows: ProcessPrng always succeeds. */
    return TRUE;
}
