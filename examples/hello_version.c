/* The smallest libqat program: build it with
 *   cc hello_version.c $(pkg-config --cflags --libs libqat) */
#include <stdio.h>

#include <qat/qat.h>

int main(void)
{
    printf("libqat %s\n", qat_version());
    return 0;
}
