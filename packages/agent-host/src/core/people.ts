import type { NightshiftConfig } from '../config.ts';
import type { Channel, PeopleDirectory, Person } from './types.ts';

/** The allow-list from config: every `<channel>: id` (or list of ids) on a person entry. */
export function createPeopleDirectory(people: NightshiftConfig['people']): PeopleDirectory {
  const all: Person[] = people.map((entry) => {
    const ids: Record<string, string[]> = {};
    for (const [key, value] of Object.entries(entry)) {
      if (key === 'name' || key === 'role') continue;
      ids[key] = (Array.isArray(value) ? value : [value]).map(String);
    }
    return { name: entry.name, role: entry.role, ids };
  });
  const index = new Map<string, Person>();
  for (const person of all) {
    for (const [channel, ids] of Object.entries(person.ids)) {
      for (const id of ids) index.set(`${channel}\u0000${id}`, person);
    }
  }
  return {
    lookup: (channel: Channel, senderId: string) => index.get(`${channel}\u0000${senderId}`),
    all: () => all,
  };
}
