/* tools/embed.c -- writes a data file as a C string, so that the skills
 * taxonomy and the region table are compiled into the binaries and need no
 * path at run time.  Usage: embed SYMBOL FILE > out.c  (build time only) */
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: embed SYMBOL FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) {
        perror(argv[2]);
        return 1;
    }
    printf("/* generated from %s by tools/embed; do not edit */\n", argv[2]);
    printf("const char %s[] =\n\"", argv[1]);
    int c;
    long col = 0;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') {
            printf("\\n\"\n\"");
            col = 0;
            continue;
        }
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            printf("\\%03o", c); /* octal keeps UTF-8 bytes exact */
        } else {
            putchar(c);
        }
        if (++col > 200) {
            printf("\"\n\"");
            col = 0;
        }
    }
    printf("\";\n");
    fclose(f);
    return 0;
}
