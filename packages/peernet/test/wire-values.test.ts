import type { WireValue } from 'peernet';
import { cleanup, pair, rejection } from './helpers.js';

// What a call, a send and a reply carry between two real nodes on 127.0.0.1:
// undefined as JSON has it, and values that cannot travel refused with the
// place they were found (the compile-time side is in wire-types.test.ts).

afterEach(cleanup);

describe('wire values between two nodes', () => {
  it('treat undefined as JSON does: entries left out, array elements and a missing payload as null', async () => {
    const { a, b } = await pair();
    const seen: WireValue[] = [];
    b.expose('echo', (args) => (seen.push(args), args));
    const profile: { name: string; nickname?: string | undefined; tags: (string | undefined)[] } = {
      name: 'ann',
      nickname: undefined,
      tags: ['x', undefined],
    };
    expect(await a.call(b.id, 'echo', profile)).toEqual({ name: 'ann', tags: ['x', null] });
    expect(Object.keys(seen[0] as object)).toEqual(['name', 'tags']);
    expect(await a.call(b.id, 'echo')).toBeNull();
    expect(await a.call(b.id, 'echo', undefined)).toBeNull();
    b.expose('partial', () => ({ ok: true, error: undefined }));
    const reply = await a.call(b.id, 'partial');
    expect(reply).toEqual({ ok: true });
    expect(Object.keys(reply as object)).toEqual(['ok']);
  });

  it('refuse arguments that cannot travel with bad_request naming the place, before anything is sent', async () => {
    const { a, b } = await pair();
    let ran = 0;
    b.expose('save', () => {
      ran++;
    });
    const args = { profile: { name: 'ann', born: new Date(0) } };
    expect(await rejection(a.call(b.id, 'save', args as never))).toMatchObject({
      code: 'bad_request',
      message: 'args.profile.born: Date is not a wire value',
    });
    expect(await rejection(a.send(b.id, 'save', { rows: [1, 2, new Set()] } as never))).toMatchObject({
      code: 'bad_request',
      message: 'args.rows[2]: Set is not a wire value',
    });
    expect(await rejection(a.call(b.id, 'save', (() => 1) as never))).toMatchObject({
      code: 'bad_request',
      message: 'args: function is not a wire value',
    });
    // The session is untouched, and the handler only ever ran for the call that could travel.
    await a.call(b.id, 'save', { born: new Date(0).toISOString() });
    expect(ran).toBe(1);
  });

  it('give the caller a typed error naming the part of a result that cannot travel', async () => {
    const { a, b } = await pair();
    b.expose('table', (): unknown => new Map([['a', 1]]));
    b.expose('nested', async (): Promise<unknown> => ({ items: [{ id: 1 }, { id: 2, at: new Date(0) }] }));
    expect(await rejection(a.call(b.id, 'table'))).toMatchObject({
      code: 'handler_error',
      message: "the handler's result could not be sent: result: Map is not a wire value",
    });
    expect(await rejection(a.call(b.id, 'nested'))).toMatchObject({
      code: 'handler_error',
      message: "the handler's result could not be sent: result.items[1].at: Date is not a wire value",
    });
    expect(a.isConnected(b.id)).toBe(true);
  });
});
