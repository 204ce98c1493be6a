/* Does this Windows (or Wine) offer DXGI Desktop Duplication?  Prints one line per step
 * with its HRESULT; exit status 0 when a duplication was created and one frame acquired.
 * Built with mingw by bench/windows_bench.py and tests/windows; not part of the product.
 */
#define COBJMACROS
#define INITGUID
#include <stdio.h>
#include <windows.h>
#include <d3d11.h>
#include <dxgi1_2.h>

static int step(const char *what, HRESULT hr)
{
    printf("%s: 0x%08lx\n", what, (unsigned long)hr);
    fflush(stdout);
    return FAILED(hr);
}

int main(void)
{
    ID3D11Device *device = NULL;
    ID3D11DeviceContext *context = NULL;
    IDXGIDevice *dxgi_device = NULL;
    IDXGIAdapter *adapter = NULL;
    IDXGIOutput *output = NULL;
    IDXGIOutput1 *output1 = NULL;
    IDXGIOutputDuplication *dup = NULL;
    DXGI_OUTDUPL_FRAME_INFO info;
    IDXGIResource *resource = NULL;
    D3D_FEATURE_LEVEL level;

    if (step("D3D11CreateDevice", D3D11CreateDevice(NULL, D3D_DRIVER_TYPE_HARDWARE, NULL, 0,
                                                    NULL, 0, D3D11_SDK_VERSION, &device,
                                                    &level, &context)))
        return 2;
    if (step("QueryInterface IDXGIDevice",
             ID3D11Device_QueryInterface(device, &IID_IDXGIDevice, (void **)&dxgi_device)))
        return 2;
    if (step("GetAdapter", IDXGIDevice_GetAdapter(dxgi_device, &adapter)))
        return 2;
    if (step("EnumOutputs(0)", IDXGIAdapter_EnumOutputs(adapter, 0, &output)))
        return 2;
    if (step("QueryInterface IDXGIOutput1",
             IDXGIOutput_QueryInterface(output, &IID_IDXGIOutput1, (void **)&output1)))
        return 2;
    if (step("DuplicateOutput", IDXGIOutput1_DuplicateOutput(output1, (IUnknown *)device, &dup)))
        return 1;
    if (step("AcquireNextFrame",
             IDXGIOutputDuplication_AcquireNextFrame(dup, 1000, &info, &resource)))
        return 1;
    return 0;
}
