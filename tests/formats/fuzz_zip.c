/* Fuzz target: the zip container (end records, central directory, local
 * headers, zip64, inflate, CRC), then the torch reader on top of it. */
#include <stddef.h>
#include <stdint.h>

#include "formats/torch_bin.h"
#include "formats/zip_reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qat_zip *zip;
    if (qat_formats_zip_open(data, size, "fuzz", &zip) == QAT_OK) {
        for (size_t i = 0; i < qat_formats_zip_count(zip); i++) {
            qat_zip_data d;
            if (qat_formats_zip_read(zip, i, &d) == QAT_OK)
                qat_formats_zip_data_free(&d);
        }
        qat_formats_zip_free(zip);
    }
    qat_tensor_set *set;
    if (qat_tensor_set_create(&set) == QAT_OK) {
        qat_torch_bin_read_memory(data, size, "fuzz", 0, set);
        qat_tensor_set_free(set);
    }
    return 0;
}
