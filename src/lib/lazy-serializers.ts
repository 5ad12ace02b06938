import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

type SerializerFactory = ReturnType<typeof SerializerSelector>;
type RouteDefinition = Parameters<ReturnType<SerializerFactory>>[0];
type Serialize = (data: unknown) => string;

export interface LazySerializers {
  /** For Fastify's `schemaController.compilersFactory.buildSerializer`. */
  factory: SerializerFactory;
  /** Builds every serializer not built yet; a broken response schema throws here. */
  compileAll(): void;
}

/**
 * Fastify's response serializers, each compiled when first used instead of at boot, and once per
 * schema object however many routes share it. Fastify compiles every (route, status) eagerly: with
 * ~400 declared responses that was 3-4 s of every start (and of every app a test builds). What a
 * serializer writes is unchanged, only when it is built; so a broken schema fails at its first
 * response rather than at boot, which is why the tests call `compileAll`.
 */
export function lazySerializers(eager: SerializerFactory = SerializerSelector()): LazySerializers {
  const unbuilt = new Set<() => void>();
  const factory: SerializerFactory = (externalSchemas, options) => {
    const bySchema = new WeakMap<object, Serialize>();
    const build = (route: RouteDefinition): Serialize => {
      const schema = route.schema as object;
      let serialize = bySchema.get(schema);
      // A fresh compiler each time: the stock one drops a schema with an $id from the shared schemas it
      // was given once it compiled that schema, which breaks later schemas that $ref it. Eagerly, at
      // boot, the order happened to be safe; built on demand, any order must be.
      if (!serialize) bySchema.set(schema, (serialize = eager(externalSchemas, options)(route)));
      return serialize;
    };
    return (route) => {
      let serialize: Serialize | undefined;
      const ensure = () => {
        unbuilt.delete(ensure);
        return (serialize ??= build(route));
      };
      unbuilt.add(ensure);
      return (data: unknown) => (serialize ?? ensure())(data);
    };
  };
  return {
    factory,
    compileAll() {
      for (const ensure of [...unbuilt]) ensure();
    },
  };
}
