/**
 * `@peculiar/x509`, which needs the Reflect metadata API of its dependency injection container
 * (tsyringe) before it loads: the polyfill is imported first, and only here.
 *
 * @module
 */
import "reflect-metadata";
export * from "@peculiar/x509";
