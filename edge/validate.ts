// The validator lives in shared/ (the runner rpc uses it too); edge code keeps importing it from here.
export { fieldError, validate } from '../shared/validate.ts';
