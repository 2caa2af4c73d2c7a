/*
 * Rendered page images, kept in memory so that the same page at the same
 * width is scaled and compressed once: rendering a 300-dpi page costs
 * tens of milliseconds of CPU, serving it from here microseconds. Only
 * the rendering is cached; every request still passes the access check
 * and is audited before it is answered. Nothing is written to disk, and
 * the memory is wiped when an entry goes, since it is a patient's page.
 *
 * Least recently used entries go first once the total passes the cap.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "viewer_int.h"
#include "common/banned.h"

struct entry {
	int64_t page_id;
	int width;
	unsigned char *data;
	size_t len;
	uint64_t used; /* tick of the last hit */
};

struct vw_cache {
	pthread_mutex_t lock;
	struct entry *e;
	size_t n, cap;
	size_t bytes, max_bytes;
	uint64_t tick;
};

struct vw_cache *vw_cache_new(size_t max_bytes)
{
	struct vw_cache *c = cv_calloc(1, sizeof(*c));

	pthread_mutex_init(&c->lock, NULL);
	c->max_bytes = max_bytes;
	return c;
}

static void drop(struct vw_cache *c, size_t i)
{
	c->bytes -= c->e[i].len;
	cv_wipe(c->e[i].data, c->e[i].len);
	free(c->e[i].data);
	c->e[i] = c->e[--c->n];
}

void vw_cache_free(struct vw_cache *c)
{
	if (!c)
		return;
	while (c->n > 0)
		drop(c, 0);
	free(c->e);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int vw_cache_get(struct vw_cache *c, int64_t page_id, int width,
		 struct cv_buf *out)
{
	size_t i;
	int found = 0;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (c->e[i].page_id == page_id && c->e[i].width == width) {
			c->e[i].used = ++c->tick;
			cv_buf_add(out, c->e[i].data, c->e[i].len);
			found = 1;
			break;
		}
	pthread_mutex_unlock(&c->lock);
	return found;
}

void vw_cache_put(struct vw_cache *c, int64_t page_id, int width,
		  const void *data, size_t len)
{
	size_t i, old;

	if (len > c->max_bytes / 4)
		return;
	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->n; i++)
		if (c->e[i].page_id == page_id && c->e[i].width == width)
			goto out; /* another thread rendered it meanwhile */
	while (c->n > 0 && c->bytes + len > c->max_bytes) {
		for (old = 0, i = 1; i < c->n; i++)
			if (c->e[i].used < c->e[old].used)
				old = i;
		drop(c, old);
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->e = cv_realloc(c->e, c->cap * sizeof(*c->e));
	}
	c->e[c->n].page_id = page_id;
	c->e[c->n].width = width;
	c->e[c->n].data = cv_malloc(len);
	memcpy(c->e[c->n].data, data, len);
	c->e[c->n].len = len;
	c->e[c->n].used = ++c->tick;
	c->bytes += len;
	c->n++;
out:
	pthread_mutex_unlock(&c->lock);
}
