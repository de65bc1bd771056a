import type { RouteConfig } from './service-config.ts';

/**
 * Which channel and conversation receives an event's notification, from `service.routes`: the
 * first route whose `match` fits wins; a route without `match` catches everything. The route is
 * also the event's lane: one turn at a time per lane, so a run's events stay in order as long as
 * routes match on the run (not on the event type alone).
 */

export interface RouteTarget {
  channel: string;
  conversation: string;
}

/** `*` matches anything but nothing else is special; matching is case-sensitive. */
export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

export interface EventFacts {
  runKey: string;
  type: string;
  source: 'job' | 'mlflow';
}

export class Router {
  private readonly routes: { route: RouteConfig; run?: RegExp; type?: RegExp }[];
  private readonly fallback: RouteTarget;

  constructor(
    routes: readonly RouteConfig[],
    fallback: RouteTarget = { channel: 'web', conversation: 'events' },
  ) {
    this.routes = routes.map((route) => ({
      route,
      run: route.match.run ? globToRegExp(route.match.run) : undefined,
      type: route.match.type ? globToRegExp(route.match.type) : undefined,
    }));
    this.fallback = fallback;
  }

  /** The target for an event. */
  target(event: EventFacts): RouteTarget {
    for (const { route, run, type } of this.routes) {
      // The run glob also matches the job name alone (without `#<job id>`).
      if (run && !run.test(event.runKey) && !run.test(event.runKey.split('#')[0] as string)) continue;
      if (type && !type.test(event.type)) continue;
      if (route.match.source && route.match.source !== event.source) continue;
      return { channel: route.channel, conversation: route.conversation };
    }
    return this.fallback;
  }

  /** Every target a notification may go to (for channels to check they are configured). */
  targets(): RouteTarget[] {
    return [
      ...this.routes.map(({ route }) => ({ channel: route.channel, conversation: route.conversation })),
      this.fallback,
    ];
  }
}

/** The lane key stored with each event. */
export const laneKey = (target: RouteTarget): string => `${target.channel}:${target.conversation}`;

export function parseLane(lane: string): RouteTarget {
  const colon = lane.indexOf(':');
  return { channel: lane.slice(0, colon), conversation: lane.slice(colon + 1) };
}

/** The host conversation event turns of a lane belong to (proposals made there live in it). */
export const laneConversation = (lane: string): string => `events:${lane}`;
