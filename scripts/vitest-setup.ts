// Every test must make at least one assertion: a test that asserts nothing is a defect.
import { beforeEach, expect } from 'vitest';

beforeEach(() => {
  expect.hasAssertions();
});
