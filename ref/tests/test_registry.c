/* SPDX-License-Identifier: AGPL-3.0-or-later */
/* test_registry.c - unit tests of the registry table (registry.h): exact name
 * matching (REG-5, stricter than tractor), insertion order kept across
 * updates (REG-2), removal (REG-4), the entry bound (REG-3), and encoders that
 * produce the very bytes tractor 0.1.0a4 sent in i_registry.jsonl. */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <msgpack.h>

#include "registry.h"
#include "suites.h"
#include "testutil.h"

/* The three registrations of conformance/vectors/tractor-0.1.0a4/i_registry.jsonl,
 * in the order the registry saw them. */
#define ARBITER_UUID "06b0b833-830c-4187-b6b3-165a870c66bd"
#define SVCD_UUID "f3be9845-9054-4aef-a260-88647b52a43f"
#define CLIENT_UUID "f564d782-789f-431f-b066-cd81a11d7fda"

/* find_actor("svcd") -> the `return` value of conn c3/c4. */
#define HEX_FIND_SVCD "92a93132372e302e302e31cdb6f1"
/* wait_for_actor("svcd") -> conn c3. */
#define HEX_WAIT_SVCD "9192a93132372e302e302e31cdb6f1"
/* get_registry() -> conn c3/c7. */
#define HEX_GET_REGISTRY                                                                     \
    "8392a761726269746572d92430366230623833332d383330632d343138372d623662332d31363561383730" \
    "633636626492a93132372e302e302e31cd44d092a473766364d92466336265393834352d393035342d3461" \
    "65662d613236302d38383634376235326134336692a93132372e302e302e31cdb6f192a6636c69656e74d9" \
    "2466353634643738322d373839662d343331662d623036362d63643831613131643766646192a93132372e" \
    "302e302e31cd8efd"

static sc_uid uid_of(const char *name, const char *uuid)
{
    return (sc_uid){ { name, strlen(name) }, { uuid, strlen(uuid) } };
}

/* The i-th entry in registration order. */
static const sc_reg_entry *nth(const sc_registry *r, size_t i)
{
    const sc_reg_entry *e = r->first;
    while (e && i--)
        e = e->order_next;
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    return e;
}

static sc_str str_of(const char *s)
{
    return (sc_str){ s, strlen(s) };
}

static int put(sc_registry *r, const char *name, const char *uuid, const char *host, uint16_t port)
{
    sc_uid u = uid_of(name, uuid);
    sc_err err;
    return sc_registry_put(r, &u, str_of(host), port, NULL, &err);
}

/* The registry of the trace: arbiter, svcd, client. */
static void fill_like_the_trace(sc_registry *r)
{
    CU_ASSERT_EQUAL_FATAL(put(r, "arbiter", ARBITER_UUID, "127.0.0.1", 17616), SC_OK);
    CU_ASSERT_EQUAL_FATAL(put(r, "svcd", SVCD_UUID, "127.0.0.1", 46833), SC_OK);
    CU_ASSERT_EQUAL_FATAL(put(r, "client", CLIENT_UUID, "127.0.0.1", 36605), SC_OK);
}

static void test_init_is_empty(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(r.count, 0);
    CU_ASSERT_EQUAL(r.max, 10);
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("anything")));
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("anything")), 0);
    sc_registry_destroy(&r);
    /* destroy of an empty registry and a second destroy are harmless */
    sc_registry_destroy(&r);
}

static void test_put_then_find_by_exact_name(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    CU_ASSERT_EQUAL(r.count, 3);
    const sc_reg_entry *e = sc_registry_find(&r, SC_STR("svcd"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->name, "svcd");
    CU_ASSERT_STRING_EQUAL(e->uuid, SVCD_UUID);
    CU_ASSERT_STRING_EQUAL(e->host, "127.0.0.1");
    CU_ASSERT_EQUAL(e->port, 46833);
    e = sc_registry_find(&r, SC_STR("arbiter"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->port, 17616);
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("nobody")));
    sc_registry_destroy(&r);
}

static void test_find_does_not_match_a_uuid_unlike_tractor(void)
{
    /* tractor's find_actor tests `name in uid`, so a uuid finds the entry;
     * REG-5 requires the name to be equal. */
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR(SVCD_UUID)));
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR(ARBITER_UUID)));
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR(CLIENT_UUID)), 0);
    sc_registry_destroy(&r);
}

static void test_find_does_not_match_prefixes_or_extensions(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("svc")));
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("svcdd")));
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("SVCD")));
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("")));
    /* a view longer than the C string, with the name as its prefix */
    sc_str longer = { "svcd\0", 5 };
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, longer));
    /* a view that is not NUL-terminated matches on its length only */
    sc_str cut = { "svcdXYZ", 4 };
    CU_ASSERT_PTR_NOT_NULL(sc_registry_find(&r, cut));
    sc_registry_destroy(&r);
}

static void test_find_returns_the_earliest_entry_of_a_name(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(put(&r, "w", "u1", "10.0.0.1", 1001), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "other", "u2", "10.0.0.2", 1002), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "w", "u3", "10.0.0.3", 1003), SC_OK);
    const sc_reg_entry *e = sc_registry_find(&r, SC_STR("w"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->uuid, "u1");
    CU_ASSERT_EQUAL(e->port, 1001);
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("w")), 2);
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("other")), 1);
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("none")), 0);
    /* Once the earliest goes, the next one of that name is found. */
    sc_uid u1 = uid_of("w", "u1");
    sc_err err;
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &u1, NULL, &err), SC_OK);
    e = sc_registry_find(&r, SC_STR("w"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->uuid, "u3");
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("w")), 1);
    sc_registry_destroy(&r);
}

static void test_same_name_different_uuid_are_two_entries(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(put(&r, "w", "u1", "h", 1), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "w", "u2", "h", 2), SC_OK);
    /* and the same uuid under another name too */
    CU_ASSERT_EQUAL(put(&r, "v", "u1", "h", 3), SC_OK);
    CU_ASSERT_EQUAL(r.count, 3);
    sc_registry_destroy(&r);
}

static void test_update_replaces_the_address_and_keeps_the_position(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    /* Re-register arbiter (first) at another address: still first. */
    CU_ASSERT_EQUAL(put(&r, "arbiter", ARBITER_UUID, "192.168.1.20", 1616), SC_OK);
    CU_ASSERT_EQUAL(r.count, 3);
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->name, "arbiter");
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->host, "192.168.1.20");
    CU_ASSERT_EQUAL(nth(&r, 0)->port, 1616);
    CU_ASSERT_STRING_EQUAL(nth(&r, 1)->name, "svcd");
    CU_ASSERT_STRING_EQUAL(nth(&r, 2)->name, "client");

    /* The table encodes in registration order with the new address. */
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    CU_ASSERT_EQUAL_FATAL(tu_unpack(sc_buf_head(&b), sc_buf_size(&b), &z, &o), 0);
    CU_ASSERT_EQUAL_FATAL(o.type, MSGPACK_OBJECT_MAP);
    CU_ASSERT_EQUAL_FATAL(o.via.map.size, 3);
    const msgpack_object *k0 = &o.via.map.ptr[0].key;
    const msgpack_object *v0 = &o.via.map.ptr[0].val;
    CU_ASSERT_EQUAL_FATAL(k0->type, MSGPACK_OBJECT_ARRAY);
    CU_ASSERT_EQUAL_FATAL(k0->via.array.size, 2);
    CU_ASSERT_EQUAL(k0->via.array.ptr[0].via.str.size, 7);
    CU_ASSERT_EQUAL(memcmp(k0->via.array.ptr[0].via.str.ptr, "arbiter", 7), 0);
    CU_ASSERT_EQUAL_FATAL(v0->type, MSGPACK_OBJECT_ARRAY);
    CU_ASSERT_EQUAL(v0->via.array.ptr[0].via.str.size, 12);
    CU_ASSERT_EQUAL(memcmp(v0->via.array.ptr[0].via.str.ptr, "192.168.1.20", 12), 0);
    CU_ASSERT_EQUAL(v0->via.array.ptr[1].via.u64, 1616);
    msgpack_zone_destroy(&z);
    sc_buf_free(&b);

    /* Update back to the trace's address: the bytes are the trace's again. */
    CU_ASSERT_EQUAL(put(&r, "arbiter", ARBITER_UUID, "127.0.0.1", 17616), SC_OK);
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    CU_ASSERT(tu_buf_eq_hex("get_registry after two updates", &b, HEX_GET_REGISTRY));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_update_of_a_middle_entry_keeps_order(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(put(&r, "a", "1", "h", 1), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "b", "2", "h", 2), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "c", "3", "h", 3), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "b", "2", "other-host", 22), SC_OK);
    CU_ASSERT_EQUAL(r.count, 3);
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->name, "a");
    CU_ASSERT_STRING_EQUAL(nth(&r, 1)->name, "b");
    CU_ASSERT_STRING_EQUAL(nth(&r, 1)->host, "other-host");
    CU_ASSERT_EQUAL(nth(&r, 1)->port, 22);
    CU_ASSERT_STRING_EQUAL(nth(&r, 2)->name, "c");
    sc_registry_destroy(&r);
}

static void test_remove_unknown_is_earg_naming_the_uid(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    sc_uid ghost = uid_of("ghost", "1234-abcd");
    sc_err err;
    sc_err_clear(&err);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &ghost, NULL, &err), SC_EARG);
    CU_ASSERT_EQUAL(err.code, SC_EARG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "ghost"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "1234-abcd"));
    CU_ASSERT_EQUAL(r.count, 3);
    /* A known name with the wrong uuid is unknown too. */
    sc_uid wrong = uid_of("svcd", ARBITER_UUID);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &wrong, NULL, &err), SC_EARG);
    CU_ASSERT_EQUAL(r.count, 3);
    /* Without an error object the code is still returned. */
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &ghost, NULL, NULL), SC_EARG);
    sc_registry_destroy(&r);
}

static void test_remove_keeps_the_order_of_the_rest(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    CU_ASSERT_EQUAL(put(&r, "late", "u-late", "127.0.0.1", 41739), SC_OK);
    sc_uid svcd = uid_of("svcd", SVCD_UUID);
    sc_err err;
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &svcd, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(r.count, 3);
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->name, "arbiter");
    CU_ASSERT_STRING_EQUAL(nth(&r, 1)->name, "client");
    CU_ASSERT_STRING_EQUAL(nth(&r, 2)->name, "late");
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("svcd")));
    /* Removing twice: the second is unknown. */
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &svcd, NULL, &err), SC_EARG);
    /* Remove the last and the first. */
    sc_uid late = uid_of("late", "u-late");
    sc_uid arb = uid_of("arbiter", ARBITER_UUID);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &late, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &arb, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(r.count, 1);
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->name, "client");
    /* Re-registering a removed uid appends it at the end. */
    CU_ASSERT_EQUAL(put(&r, "arbiter", ARBITER_UUID, "127.0.0.1", 17616), SC_OK);
    CU_ASSERT_STRING_EQUAL(nth(&r, 1)->name, "arbiter");
    sc_registry_destroy(&r);
}

static void test_full_registry_refuses_a_new_uid_with_elimit(void)
{
    enum { MAX = 40 };
    sc_registry r;
    sc_registry_init(&r, MAX, 1u << 20);
    char uuid[32];
    for (int i = 0; i < MAX; i++) {
        snprintf(uuid, sizeof(uuid), "uuid-%d", i);
        CU_ASSERT_EQUAL_FATAL(put(&r, "w", uuid, "h", (uint16_t)(1000 + i)), SC_OK);
    }
    CU_ASSERT_EQUAL(r.count, MAX);
    sc_uid extra = uid_of("w", "uuid-extra");
    sc_err err;
    sc_err_clear(&err);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &extra, SC_STR("h"), 1, NULL, &err), SC_ELIMIT);
    CU_ASSERT_EQUAL(err.code, SC_ELIMIT);
    CU_ASSERT(err.msg[0] != '\0');
    CU_ASSERT_EQUAL(sc_registry_put(&r, &extra, SC_STR("h"), 1, NULL, NULL), SC_ELIMIT);
    CU_ASSERT_EQUAL(r.count, MAX);
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("w")), MAX);
    /* Updating a registered uid still works when full. */
    CU_ASSERT_EQUAL(put(&r, "w", "uuid-7", "new-host", 7), SC_OK);
    CU_ASSERT_STRING_EQUAL(nth(&r, 7)->host, "new-host");
    CU_ASSERT_EQUAL(r.count, MAX);
    /* After a removal there is room for one more. */
    sc_uid seven = uid_of("w", "uuid-7");
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &seven, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &extra, SC_STR("h"), 1, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(r.count, MAX);
    CU_ASSERT_STRING_EQUAL(nth(&r, MAX - 1)->uuid, "uuid-extra");
    sc_registry_destroy(&r);
}

static void test_pack_addr_matches_the_find_actor_reply_of_the_trace(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    const sc_reg_entry *e = sc_registry_find(&r, SC_STR("svcd"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(sc_registry_pack_addr(&pk, e), 0);
    CU_ASSERT(tu_buf_eq_hex("find_actor(svcd)", &b, HEX_FIND_SVCD));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_pack_addrs_matches_the_wait_for_actor_reply_of_the_trace(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_addrs(&pk, &r, SC_STR("svcd")), 0);
    CU_ASSERT(tu_buf_eq_hex("wait_for_actor(svcd)", &b, HEX_WAIT_SVCD));
    sc_buf_free(&b);

    /* conn c6: wait_for_actor("late") answered once "late" registered. */
    CU_ASSERT_EQUAL(put(&r, "late", "8a9c", "127.0.0.1", 41739), SC_OK);
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_addrs(&pk, &r, SC_STR("late")), 0);
    CU_ASSERT(tu_buf_eq_hex("wait_for_actor(late)", &b, "9192a93132372e302e302e31cda30b"));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_pack_addrs_lists_every_entry_of_the_name_in_order(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(put(&r, "w", "u1", "a", 1), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "x", "u2", "b", 2), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "w", "u3", "c", 300), SC_OK);
    CU_ASSERT_EQUAL(put(&r, "w", "w", "d", 4), SC_OK);   /* uuid equal to the name */
    CU_ASSERT_EQUAL(put(&r, "y", "w", "e", 5), SC_OK);   /* must not match "w" */
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_addrs(&pk, &r, SC_STR("w")), 0);
    /* [["a",1],["c",300],["d",4]] */
    CU_ASSERT(tu_buf_eq_hex("wait_for_actor(w)", &b, "93 92a16101 92a163cd012c 92a16404"));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_pack_addrs_of_an_unknown_name_is_an_empty_array(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_addrs(&pk, &r, SC_STR("nobody")), 0);
    CU_ASSERT(tu_buf_eq_hex("wait_for_actor(nobody)", &b, "90"));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_pack_table_matches_the_get_registry_reply_of_the_trace(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    CU_ASSERT(tu_buf_eq_hex("get_registry()", &b, HEX_GET_REGISTRY));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_pack_table_of_an_empty_registry_is_an_empty_map(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    CU_ASSERT(tu_buf_eq_hex("get_registry() of nothing", &b, "80"));
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

static void test_ports_are_packed_in_the_smallest_form(void)
{
    static const struct {
        uint16_t port;
        const char *hex;
    } cases[] = {
        { 0, "92a16800" },          { 1, "92a16801" },          { 127, "92a1687f" },
        { 128, "92a168cc80" },      { 255, "92a168ccff" },      { 256, "92a168cd0100" },
        { 1616, "92a168cd0650" },   { 17616, "92a168cd44d0" },  { 65535, "92a168cdffff" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sc_registry r;
        sc_registry_init(&r, 1, 1u << 20);
        CU_ASSERT_EQUAL_FATAL(put(&r, "n", "u", "h", cases[i].port), SC_OK);
        sc_buf b;
        msgpack_packer pk;
        tu_packer_init(&pk, &b);
        CU_ASSERT_EQUAL(sc_registry_pack_addr(&pk, nth(&r, 0)), 0);
        char what[32];
        snprintf(what, sizeof(what), "port %u", (unsigned)cases[i].port);
        CU_ASSERT(tu_buf_eq_hex(what, &b, cases[i].hex));
        sc_buf_free(&b);
        sc_registry_destroy(&r);
    }
}

static void test_pack_into_a_full_buffer_reports_failure(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    fill_like_the_trace(&r);
    /* Every prefix length of the table must fail cleanly. */
    for (size_t cap = 1; cap < 40; cap++) {
        sc_buf b;
        msgpack_packer pk;
        sc_buf_init(&b, cap);
        msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
        CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), -1);
        CU_ASSERT_EQUAL(b.write_rc, SC_ELIMIT);
        sc_buf_free(&b);
        sc_buf_init(&b, cap < 14 ? cap : 13);
        msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
        CU_ASSERT_EQUAL(sc_registry_pack_addr(&pk, nth(&r, 0)), -1);
        sc_buf_free(&b);
        sc_buf_init(&b, cap < 15 ? cap : 14);
        msgpack_packer_init(&pk, &b, sc_buf_msgpack_write);
        CU_ASSERT_EQUAL(sc_registry_pack_addrs(&pk, &r, SC_STR("svcd")), -1);
        sc_buf_free(&b);
    }
    sc_registry_destroy(&r);
}

static void test_allocation_failure_in_put_changes_nothing(void)
{
    /* First registration (bucket arrays, entry, name, uuid, host), then an
     * update (host only), then growth of the bucket arrays past 16. */
    sc_registry r;
    sc_registry_init(&r, 100, 1u << 20);
    int succeeded = 0;
    for (unsigned long n = 1; n < 20 && !succeeded; n++) {
        sc_uid u = uid_of("svcd", SVCD_UUID);
        sc_err err;
        sc_err_clear(&err);
        sc_alloc_fail_at(n);
        int rc = sc_registry_put(&r, &u, SC_STR("127.0.0.1"), 46833, NULL, &err);
        sc_alloc_fail_at(0);
        if (rc == SC_OK) {
            succeeded = 1;
            CU_ASSERT(n > 1);
            break;
        }
        CU_ASSERT_EQUAL(rc, SC_ENOMEM);
        CU_ASSERT_EQUAL(err.code, SC_ENOMEM);
        CU_ASSERT(err.msg[0] != '\0');
        CU_ASSERT_EQUAL(r.count, 0);
        CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("svcd")));
    }
    CU_ASSERT_FATAL(succeeded);
    CU_ASSERT_EQUAL(r.count, 1);

    /* update under allocation failure: the old address stays */
    sc_uid u = uid_of("svcd", SVCD_UUID);
    sc_alloc_fail_at(1);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &u, SC_STR("10.1.1.1"), 9, NULL, NULL), SC_ENOMEM);
    sc_alloc_fail_at(0);
    CU_ASSERT_STRING_EQUAL(nth(&r, 0)->host, "127.0.0.1");
    CU_ASSERT_EQUAL(nth(&r, 0)->port, 46833);

    /* fill to the initial bucket count, then make the growth fail */
    char uuid[32];
    while (r.count < r.nbuckets) {
        snprintf(uuid, sizeof(uuid), "u%zu", r.count);
        CU_ASSERT_EQUAL_FATAL(put(&r, "w", uuid, "h", 1), SC_OK);
    }
    size_t before = r.count;
    for (unsigned long n = 1; n < 20; n++) {
        sc_uid x = uid_of("x", "grow");
        sc_alloc_fail_at(n);
        int rc = sc_registry_put(&r, &x, SC_STR("h"), 2, NULL, NULL);
        sc_alloc_fail_at(0);
        if (rc == SC_OK)
            break;
        CU_ASSERT_EQUAL(rc, SC_ENOMEM);
        CU_ASSERT_EQUAL(r.count, before);
    }
    CU_ASSERT_EQUAL(r.count, before + 1);
    CU_ASSERT_PTR_NOT_NULL(sc_registry_find(&r, SC_STR("x")));
    CU_ASSERT_PTR_NOT_NULL(sc_registry_find(&r, SC_STR("svcd")));
    sc_registry_destroy(&r);
}

static void test_empty_strings_are_a_valid_uid_and_host(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    CU_ASSERT_EQUAL(put(&r, "", "", "", 0), SC_OK);
    CU_ASSERT_PTR_NOT_NULL(sc_registry_find(&r, SC_STR("")));
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    CU_ASSERT(tu_buf_eq_hex("table of the empty uid", &b, "81 92a0a0 92a000"));
    sc_buf_free(&b);
    sc_uid u = uid_of("", "");
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &u, NULL, NULL), SC_OK);
    CU_ASSERT_EQUAL(r.count, 0);
    sc_registry_destroy(&r);
}

/* Regression: registry.c stores name, uuid and host as C strings (sc_strndup) and
 * compares them with sc_str_eq_c (strlen), so a str holding a NUL byte -- valid
 * msgpack and valid UTF-8, and the scanner lets it through -- is cut at the
 * NUL: lookup() never finds such a uid again, so every register_actor of it
 * appends a new entry (the REG-3 bound is then the only limit) and
 * unregister_actor answers KeyError for it; find("a") matches an entry
 * registered as "a\0b"; get_registry reports the name as "a". */
static void test_names_with_a_nul_byte_are_kept_whole(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    sc_uid u = { { "a\0b", 3 }, { "u", 1 } };
    CU_ASSERT_EQUAL(sc_registry_put(&r, &u, SC_STR("h"), 1, NULL, NULL), SC_OK);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &u, SC_STR("h"), 2, NULL, NULL), SC_OK);
    CU_ASSERT_EQUAL(r.count, 1);                                    /* got 2 */
    CU_ASSERT_PTR_NULL(sc_registry_find(&r, SC_STR("a")));          /* got a match */
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, u.name), 1);        /* got 0 */
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    CU_ASSERT(tu_buf_eq_hex("table", &b, "81 92a3610062a175 92a16802"));
    sc_buf_free(&b);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &u, NULL, NULL), SC_OK);       /* got SC_EARG */
    sc_registry_destroy(&r);
}

/* REG-15: a peer changes or removes only what it registered, or its own
 * uid's entry; nobody but the actor changes the actor's own entry. */
static void test_only_the_registrant_or_the_named_actor_may_change_an_entry(void)
{
    sc_registry r;
    sc_registry_init(&r, 10, 1u << 20);
    sc_uid self = uid_of("arbiter", ARBITER_UUID);
    sc_uid owner = uid_of("client", CLIENT_UUID);
    sc_uid named = uid_of("svcd", SVCD_UUID);
    sc_uid stranger = uid_of("mallory", "m-1");
    sc_err err;
    CU_ASSERT_EQUAL(sc_registry_put(&r, &self, SC_STR("h"), 1, NULL, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &named, SC_STR("h"), 2, &owner, &err), SC_OK);
    /* A stranger may neither move nor remove either entry. */
    CU_ASSERT_EQUAL(sc_registry_put(&r, &named, SC_STR("evil"), 9, &stranger, &err), SC_ESTATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "svcd"));
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &named, &stranger, &err), SC_ESTATE);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &self, &stranger, &err), SC_ESTATE);
    CU_ASSERT_EQUAL(sc_registry_put(&r, &self, SC_STR("evil"), 9, &stranger, &err), SC_ESTATE);
    /* The registry's own entry resists even its own uid coming from a peer. */
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &self, &self, &err), SC_ESTATE);
    CU_ASSERT_STRING_EQUAL(sc_registry_find(&r, SC_STR("svcd"))->host, "h");
    CU_ASSERT_EQUAL(r.count, 2);
    /* The named actor may move its entry, the registrant may remove it. */
    CU_ASSERT_EQUAL(sc_registry_put(&r, &named, SC_STR("h2"), 3, &named, &err), SC_OK);
    CU_ASSERT_EQUAL(sc_registry_remove(&r, &named, &owner, &err), SC_OK);
    CU_ASSERT_EQUAL(r.count, 1);
    sc_registry_destroy(&r);
}

/* REG-16: names, uuids and the total are bounded, and a table at the byte
 * bound still encodes within the message limit it was derived from. */
static void test_bounds_on_names_and_bytes_keep_the_table_within_a_message(void)
{
    enum { FRAME = 4096 };
    sc_registry r;
    sc_registry_init(&r, 1000, sc_registry_bytes_for(FRAME));
    char name[SC_REG_NAME_MAX + 2];
    memset(name, 'n', sizeof(name));
    sc_uid long_name = { { name, SC_REG_NAME_MAX + 1 }, { "u", 1 } };
    sc_err err;
    CU_ASSERT_EQUAL(sc_registry_put(&r, &long_name, SC_STR("h"), 1, NULL, &err), SC_ELIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "at most"));
    int added = 0;
    for (;; added++) {
        char uuid[32];
        snprintf(uuid, sizeof(uuid), "%d", added);
        sc_uid u = { { name, SC_REG_NAME_MAX }, { uuid, strlen(uuid) } };
        int rc = sc_registry_put(&r, &u, SC_STR("127.0.0.1"), 65535, NULL, &err);
        if (rc != SC_OK) {
            CU_ASSERT_EQUAL(rc, SC_ELIMIT);
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bytes"));
            break;
        }
    }
    CU_ASSERT(added > 5);
    sc_buf b;
    msgpack_packer pk;
    tu_packer_init(&pk, &b);
    CU_ASSERT_EQUAL(sc_registry_pack_table(&pk, &r), 0);
    /* 17 bytes of envelope and a 256-byte cid with its header */
    CU_ASSERT(sc_buf_size(&b) + 17 + 259 <= FRAME);
    sc_buf_free(&b);
    sc_registry_destroy(&r);
}

/* Lookups by name and removals do not walk the table: 20000 entries of one
 * name, removed oldest first, each time leaving the next oldest found. */
static void test_many_entries_of_one_name_stay_in_order(void)
{
    enum { N = 20000 };
    sc_registry r;
    sc_registry_init(&r, N, 64u << 20);
    char uuid[32];
    for (int i = 0; i < N; i++) {
        snprintf(uuid, sizeof(uuid), "u%d", i);
        CU_ASSERT_EQUAL_FATAL(put(&r, "w", uuid, "h", 1), SC_OK);
    }
    CU_ASSERT_EQUAL(sc_registry_count_name(&r, SC_STR("w")), N);
    for (int i = 0; i < N; i++) {
        snprintf(uuid, sizeof(uuid), "u%d", i);
        const sc_reg_entry *e = sc_registry_find(&r, SC_STR("w"));
        CU_ASSERT_PTR_NOT_NULL_FATAL(e);
        CU_ASSERT_STRING_EQUAL_FATAL(e->uuid, uuid);
        sc_uid u = uid_of("w", uuid);
        CU_ASSERT_EQUAL_FATAL(sc_registry_remove(&r, &u, NULL, NULL), SC_OK);
    }
    CU_ASSERT_EQUAL(r.count, 0);
    CU_ASSERT_EQUAL(r.bytes, 0);
    sc_registry_destroy(&r);
}

int register_registry_tests(void)
{
    static CU_TestInfo tests[] = {
        { "only_the_registrant_or_the_named_actor_may_change_an_entry",
          test_only_the_registrant_or_the_named_actor_may_change_an_entry },
        { "bounds_on_names_and_bytes_keep_the_table_within_a_message",
          test_bounds_on_names_and_bytes_keep_the_table_within_a_message },
        { "many_entries_of_one_name_stay_in_order", test_many_entries_of_one_name_stay_in_order },
        { "init_is_empty", test_init_is_empty },
        { "put_then_find_by_exact_name", test_put_then_find_by_exact_name },
        { "find_does_not_match_a_uuid_unlike_tractor",
          test_find_does_not_match_a_uuid_unlike_tractor },
        { "find_does_not_match_prefixes_or_extensions",
          test_find_does_not_match_prefixes_or_extensions },
        { "find_returns_the_earliest_entry_of_a_name",
          test_find_returns_the_earliest_entry_of_a_name },
        { "same_name_different_uuid_are_two_entries",
          test_same_name_different_uuid_are_two_entries },
        { "update_replaces_the_address_and_keeps_the_position",
          test_update_replaces_the_address_and_keeps_the_position },
        { "update_of_a_middle_entry_keeps_order", test_update_of_a_middle_entry_keeps_order },
        { "remove_unknown_is_earg_naming_the_uid", test_remove_unknown_is_earg_naming_the_uid },
        { "remove_keeps_the_order_of_the_rest", test_remove_keeps_the_order_of_the_rest },
        { "full_registry_refuses_a_new_uid_with_elimit",
          test_full_registry_refuses_a_new_uid_with_elimit },
        { "pack_addr_matches_the_find_actor_reply_of_the_trace",
          test_pack_addr_matches_the_find_actor_reply_of_the_trace },
        { "pack_addrs_matches_the_wait_for_actor_reply_of_the_trace",
          test_pack_addrs_matches_the_wait_for_actor_reply_of_the_trace },
        { "pack_addrs_lists_every_entry_of_the_name_in_order",
          test_pack_addrs_lists_every_entry_of_the_name_in_order },
        { "pack_addrs_of_an_unknown_name_is_an_empty_array",
          test_pack_addrs_of_an_unknown_name_is_an_empty_array },
        { "pack_table_matches_the_get_registry_reply_of_the_trace",
          test_pack_table_matches_the_get_registry_reply_of_the_trace },
        { "pack_table_of_an_empty_registry_is_an_empty_map",
          test_pack_table_of_an_empty_registry_is_an_empty_map },
        { "ports_are_packed_in_the_smallest_form", test_ports_are_packed_in_the_smallest_form },
        { "pack_into_a_full_buffer_reports_failure", test_pack_into_a_full_buffer_reports_failure },
        { "allocation_failure_in_put_changes_nothing",
          test_allocation_failure_in_put_changes_nothing },
        { "empty_strings_are_a_valid_uid_and_host", test_empty_strings_are_a_valid_uid_and_host },
        { "names_with_a_nul_byte_are_kept_whole", test_names_with_a_nul_byte_are_kept_whole },
        CU_TEST_INFO_NULL,
    };
    return sc_add_suite("registry", tests);
}
