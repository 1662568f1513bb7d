/* The SpiffWorkflow extension elements as a moddle package, so the bpmn-js modeler reads, edits and writes
   <spiffworkflow:properties>, scripts and the other extensions the engine reads (docs/process-conventions.md)
   instead of keeping them as opaque XML. Every extension SpiffWorkflow 3.2's parser knows is declared: an
   undeclared element of a declared namespace would be dropped on save. */
'use strict';

const StudioSpiffModdle = (() => {
  const body = (name) => ({name, superClass: ['Element'], properties: [{name: 'value', type: 'String', isBody: true}]});
  const named = (name, child, many) => ({name, superClass: ['Element'],
    properties: [{name: many, type: child, isMany: true}]});
  const attrs = (name, ...names) => ({name, superClass: ['Element'],
    properties: names.map((n) => ({name: n, type: 'String', isAttr: true}))});
  return {
    name: 'SpiffWorkflow',
    prefix: 'spiffworkflow',
    uri: 'http://spiffworkflow.org/bpmn/schema/1.0/core',
    xml: {tagAlias: 'lowerCase'},
    associations: [],
    types: [
      named('Properties', 'Property', 'properties'),
      attrs('Property', 'name', 'value'),
      body('PreScript'), body('PostScript'), body('CalledDecisionId'), body('MessageVariable'),
      body('MessagePayload'), body('InstructionsForEndUser'), body('SignalPayload'), body('AllowGuest'),
      body('GuestConfirmation'),
      named('TaskMetadataValues', 'TaskMetadataValue', 'values'), attrs('TaskMetadataValue', 'name', 'value'),
      named('UnitTests', 'UnitTest', 'unitTests'),
      {name: 'UnitTest', superClass: ['Element'], properties: [{name: 'id', type: 'String', isAttr: true},
        {name: 'inputJson', type: 'InputJson'}, {name: 'expectedOutputJson', type: 'ExpectedOutputJson'}]},
      body('InputJson'), body('ExpectedOutputJson'),
      {name: 'ServiceTaskOperator', superClass: ['Element'], properties: [
        {name: 'id', type: 'String', isAttr: true}, {name: 'resultVariable', type: 'String', isAttr: true},
        {name: 'parameterList', type: 'ParameterList'}]},
      named('ParameterList', 'Parameter', 'parameters'), attrs('Parameter', 'id', 'type', 'value'),
      {name: 'ScriptsOnInstances', isAbstract: true, extends: ['bpmn:MultiInstanceLoopCharacteristics'],
        properties: [{name: 'scriptsOnInstances', type: 'String', isAttr: true}]},
    ],
  };
})();
