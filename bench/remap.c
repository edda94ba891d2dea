/* Remap fraction of the service map (lib/svcmap.c, the controller's own
 * code): for N = 2..16 instances and B buckets, the fraction of buckets
 * whose primary moves when one instance fails (averaged over which one)
 * and when one is added, next to the ideal (1/N, 1/(N+1)) and to plain
 * modulo hashing (bucket mod N).  Prints JSON. */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include "svcmap.h"

static struct svcmap *
make_map(int n, size_t n_buckets)
{
    struct svcmap *map = svcmap_create("svc", n_buckets);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "svc-%d", i + 1);
        svcmap_add_instance(map, name, 1);
    }
    return map;
}

int
main(int argc, char **argv)
{
    size_t nb = argc > 1 ? strtoul(argv[1], NULL, 0) : 4096;
    int *before = malloc(nb * sizeof *before);

    printf("{\"buckets\": %zu, \"rows\": [\n", nb);
    for (int n = 2; n <= 16; n++) {
        /* Removal of instance 'victim', averaged over every victim. */
        double rm = 0, rm_mod = 0, rm_sec = 0, rm_max = 0, rm_any = 0;
        int *sec_before_b = malloc(nb * sizeof *sec_before_b);
        for (int victim = 0; victim < n; victim++) {
            struct svcmap *map = make_map(n, nb);
            svcmap_assign(map);
            for (size_t b = 0; b < nb; b++) {
                before[b] = map->buckets[b].primary;
            }
            size_t sec_before = 0;
            for (size_t b = 0; b < nb; b++) {
                sec_before += map->buckets[b].secondary == victim;
                sec_before_b[b] = map->buckets[b].secondary;
            }
            svcmap_set_state(map, victim, SVCMAP_DOWN);
            size_t moved = 0, any = 0;
            for (size_t b = 0; b < nb; b++) {
                moved += map->buckets[b].primary != before[b];
                any += (map->buckets[b].primary != before[b]
                        || map->buckets[b].secondary != sec_before_b[b]);
            }
            rm += (double) moved / nb;
            rm_any += (double) any / nb;
            if ((double) moved / nb > rm_max) {
                rm_max = (double) moved / nb;
            }
            rm_sec += (double) sec_before / nb;
            svcmap_destroy(map);

            /* Modulo: the survivors, renumbered. */
            size_t moved_mod = 0;
            for (size_t b = 0; b < nb; b++) {
                int old = b % n;
                int idx = b % (n - 1);
                int neu = idx < victim ? idx : idx + 1;
                moved_mod += old != neu;
            }
            rm_mod += (double) moved_mod / nb;
        }
        rm /= n;
        rm_mod /= n;
        rm_sec /= n;
        rm_any /= n;
        free(sec_before_b);

        /* Addition of instance n+1, as the controller does it for an
         * instance never seen before: mark it up and assign afresh. */
        struct svcmap *map = make_map(n + 1, nb);
        svcmap_set_state(map, n, SVCMAP_DOWN);
        svcmap_assign(map);
        for (size_t b = 0; b < nb; b++) {
            before[b] = map->buckets[b].primary;
        }
        svcmap_set_state(map, n, SVCMAP_UP);
        svcmap_assign(map);
        size_t moved = 0, to_new = 0;
        for (size_t b = 0; b < nb; b++) {
            moved += map->buckets[b].primary != before[b];
            to_new += map->buckets[b].primary == n;
        }
        svcmap_destroy(map);
        size_t moved_mod = 0;
        for (size_t b = 0; b < nb; b++) {
            moved_mod += (b % n) != (b % (n + 1));
        }
        printf("  {\"n\": %d, \"remove\": %.5f, \"remove_ideal\": %.5f, "
               "\"remove_max\": %.5f, \"remove_any_role\": %.5f, "
               "\"remove_modulo\": %.5f, \"remove_secondary_role\": %.5f, "
               "\"add\": %.5f, \"add_to_new\": %.5f, \"add_ideal\": %.5f, "
               "\"add_modulo\": %.5f}%s\n",
               n, rm, 1.0 / n, rm_max, rm_any, rm_mod, rm_sec, (double) moved / nb,
               (double) to_new / nb, 1.0 / (n + 1), (double) moved_mod / nb,
               n < 16 ? "," : "");
    }
    printf("]}\n");
    free(before);
    return 0;
}
